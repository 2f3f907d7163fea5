# The two commands of the README. Each sets up everything it needs (tools/env.sh creates or
# reuses the Python 3.10 environment outside the clone), then runs.
.PHONY: demo test lint

demo:
	@PY=$$(bash tools/env.sh) && "$$PY" -m neurodeploy.cli.main demo -o demo-output

test:
	@PY=$$(bash tools/env.sh) && "$$PY" -m pytest -q -p no:cacheprovider

lint:
	@PY=$$(bash tools/env.sh) && "$$PY" -m ruff check neurodeploy converters tests tools
