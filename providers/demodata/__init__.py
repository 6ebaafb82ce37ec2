"""Demo data of the product: the demo administrations' catalogue and a synthetic population.

Pure Python (standard library and `providers.siret` only, no Django), so that product code (the
demo adapter, the demo seed, the demo citizen login) and the standalone sandbox provider read the
same people and the same attestation types. This package stays free of imports: importing
`providers.demodata.population` must never pull in Django or a model.
"""
