"""`invoke lock` and `invoke verify`: pin a lab's setup, check it elsewhere.

- collect: what the lab depends on (tools, libraries, models, data), hashed
- file: the lab.lock.toml format (load, save, schema)
- compare: this machine against the lock (verify)
"""
