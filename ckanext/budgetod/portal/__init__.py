"""Budget datasets on the portal, whoever brings the documents (a harvest, a hand upload, `occult --all`):
datasets and resources written under a lock, their metadata, and the background job of hand uploads."""
