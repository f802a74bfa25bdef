"""The worker: start-up, the parts its role runs, Faust agents, supervision, health, data dir."""
