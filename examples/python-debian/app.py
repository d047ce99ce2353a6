import os
import ssl

print(f"hello from python as uid {os.getuid()}; CA bundle: {ssl.get_default_verify_paths().cafile}")
