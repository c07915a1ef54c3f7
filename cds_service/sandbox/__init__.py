"""Tools for integration teams: load synthetic patients into a FHIR server, fire hooks like an EHR."""
