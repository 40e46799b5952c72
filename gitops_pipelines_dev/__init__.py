"""Development tooling, used from the checkout and never shipped: the GitHub emulator, local services (moto,
PostgreSQL, Dagster processes), the sample infrastructure repository and `make run`.

The product package `gitops_pipelines` never imports this one.
"""
