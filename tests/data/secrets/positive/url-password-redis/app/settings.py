CACHE_URL = 'redis://default:HqWqUpccPU1IV4sxOpQwMUYL@cache.corp.internal:6379/0'
