"""data.gouv.fr synchronisation, the CKAN side: the sync itself (``sync``), its jobs, commands and template
helpers. Its udata API client is the core's (``core/net/udata.py``)."""
