"""The providers app's pages: the public catalogue, and the agents' login and space."""
