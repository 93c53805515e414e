"""tsnhub: the host of the IHE actors (listeners, codecs, store, coordination, CLI)."""
