"""Reading TOTEM documents: the hardened reader, the nomenclatures (plans de comptes), the occultation
of personal data."""
