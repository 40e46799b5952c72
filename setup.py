from setuptools import find_packages, setup

# The dagster family moves in lockstep: dagster X.Y.Z ships with dagster-postgres 0.(Y+16).Z.
# An unpinned install was seen to backtrack to a dagster-postgres that cannot import.
DAGSTER = "1.13.27"
DAGSTER_LIBS = "0.29.27"

setup(
    name="gitops_pipelines",
    version="0.1.0",
    description="GitOps delivery for Terraform on Dagster: stored plans, ephemeral tests, approvals, audit trail.",
    # Only the product: gitops_pipelines_dev (emulator, local services, `make run`) and the tests run from the checkout.
    # Not a glob "gitops_pipelines*": that matches gitops_pipelines_dev too.
    packages=find_packages(include=["gitops_pipelines", "gitops_pipelines.*"]),
    package_data={"gitops_pipelines.core.policy": ["rules/*.rego"]},  # the default policy pack, loaded at run time
    python_requires=">=3.10",
    install_requires=[
        f"dagster=={DAGSTER}",
        f"dagster-webserver=={DAGSTER}",
        f"dagster-graphql=={DAGSTER}",
        f"dagster-postgres=={DAGSTER_LIBS}",
        "sqlalchemy<2.1",
        "psycopg2-binary",
        "PyGithub>=2.4,<3",
        "python-terraform==0.10.1",
        "pydantic>=2.6,<3",
        "PyYAML>=6",
        "semver>=3,<4",
        "cryptography>=42",
        "python-hcl2>=7,<9",
        "boto3>=1.34",
        "starlette",
        "uvicorn",
        "requests",
        "regopy>=1.5,<2",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-timeout",
            "pytest-xdist>=3",  # make test runs two workers: much of the e2e time is waiting on the daemon
            "moto[server]>=5,<6",
            "openapi-core>=0.19",
            "jsonschema>=4.20",
            "referencing",
            "httpx",
            "wheel",  # the packaging test builds the wheel without build isolation
            "playwright>=1.42",  # the browser test drives Debian's chromium (never `playwright install`)
        ],
    },
    entry_points={"console_scripts": ["gitops-pipelines=gitops_pipelines.cli:main"]},
)
