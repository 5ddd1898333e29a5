"""Pure domain: read TOTEM documents, nomenclatures, SCDL conversion, validation. Imports nothing from CKAN."""
