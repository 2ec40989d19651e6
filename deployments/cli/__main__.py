"""`python -m healthmon.deployments.cli`."""

from healthmon.deployments.cli.app import main

if __name__ == "__main__":
    main()
