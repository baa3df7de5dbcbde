"""Layer 3: the network emulation (Mininet hosts and links, delay backends, routes,
the real-time controller, cleanup). Needs root."""
