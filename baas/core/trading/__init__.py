"""Trading domain: signals, alerts, brokers and the paper sandbox (pure, no I/O)."""
