"""One package per blueprint; each exposes `bp`."""
