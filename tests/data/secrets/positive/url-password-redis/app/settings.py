CACHE_URL = 'redis://default:HqWqUpccPU1IV4sxOpQwMUYL@cache.example.com:6379/0'
