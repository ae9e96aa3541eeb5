from xinfang.storage.migrations import run_env

run_env()
