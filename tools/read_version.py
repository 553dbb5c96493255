#!/usr/bin/env python3
# read_version.py — prints MAJOR.MINOR.PATCH from include/simvtp/version.h for meson.
import os, re
here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, '..', 'include', 'simvtp', 'version.h')).read()
parts = [re.search(r'#define SIMVTP_VERSION_%s (\d+)' % k, text).group(1)
         for k in ('MAJOR', 'MINOR', 'PATCH')]
print('.'.join(parts))
