"""XDM (ITI-32) media: reading untrusted ZIP media, importing them into the registry and repository, exporting a patient's documents."""
