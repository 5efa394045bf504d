"""imagepipe shared library: settings, errors, models, keys, job contract, storage and records."""
