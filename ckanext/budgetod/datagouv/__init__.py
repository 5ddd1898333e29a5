"""data.gouv.fr synchronisation: the udata API v1 client (``client``, imports nothing from CKAN) and the CKAN side."""
