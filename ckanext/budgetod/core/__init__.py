"""The domain, CKAN-free (tests/test_core_imports.py checks it): TOTEM documents (``totem``), the SCDL
table (``scdl``), where documents live (``sources``), outbound HTTP and the udata client (``net``), the
one pipeline, its report, the settings, the messages catalogue, the contract and the command line."""
