"""The benchmark: how fast each way of running the network is here, against the release pipeline."""
