# Xinfang: `make run` starts everything on the embedded broker; `make test` runs the tests.
# Both set up the virtual environment at .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup chromium test-servers run test lint bench clean

setup: $(STAMP) chromium

# the browser tests drive Debian's Chromium (never a downloaded one), and Debian's docker-compose
# validates docker-compose.yml; both installed when root with apt, otherwise those tests skip and
# say why. A CJK font makes the screenshots readable.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	  || echo "could not install chromium; the browser tests will skip"; \
	fi
	@# the console makes the documents' PDFs with WeasyPrint, on Debian's Pango (and the CJK font above)
	@if ! ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei >/dev/null) \
	  || echo "could not install pango; the documents' PDF downloads will fail"; \
	fi
	@if ! command -v docker-compose >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null) \
	  || echo "could not install docker-compose; the compose file test will skip"; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Xinfang needs Python 3.11 (found %s)" % sys.version.split()[0])'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

run: setup
	$(VENV)/bin/xinfang up

# the tests start their own PostgreSQL cluster from Debian's server package and their own Apache
# Kafka from Maven Central's jars (Java and Maven): installed when missing and root, with apt
test-servers:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's postgresql for the tests …"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	    || echo "could not install postgresql; set XINFANG_TEST_POSTGRES_URL or the PostgreSQL tests skip"; \
	  else echo "no PostgreSQL server binaries: install postgresql or set XINFANG_TEST_POSTGRES_URL"; fi; \
	fi
	@if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Java and Maven for the Apache Kafka tests …"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null) \
	    || echo "could not install Java and Maven; the Apache Kafka tests will skip and say why"; \
	  fi; \
	fi
	@if ! command -v prometheus >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's prometheus for the dashboard test …"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	    || echo "could not install prometheus; the dashboard test will fail and say why"; \
	  fi; \
	fi

test: setup test-servers
	$(VENV)/bin/python -m pytest

# ruff over everything; mypy over the kernel and each service's rules (domain.py)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy xinfang $(wildcard services/*/domain.py)

bench: setup
	$(VENV)/bin/python bench/e2e.py

clean:
	rm -rf .xinfang test-artifacts
