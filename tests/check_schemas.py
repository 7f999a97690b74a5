#!/usr/bin/env python3
"""Validates event bodies against the JSON Schemas in schemas/events/.

Usage: check_schemas.py [DIR...] [--api DIR]

Every file in tests/fixtures/events/valid must be valid against the schema of
its type and every file in tests/fixtures/events/invalid must be invalid; any
further DIR (e.g. the bodies the scenario test signed) must be all valid.
A fixture whose type has no schema counts only where the type is what it tests
(invalid/type-*.json); a missing directory, an empty one, or a missing limits
schema is a failure, not zero files checked.
The C parser is held to the same fixtures by tests/test_event.c, so the
schemas and the code cannot drift apart. Prints "N passed, N failed".
"""
import json
import os
import sys

import jsonschema

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SCHEMAS = os.path.join(ROOT, 'schemas')


def load_schemas():
    store, by_type = {}, {}
    for sub in ('events', 'api', 'limits'):
        d = os.path.join(SCHEMAS, sub)
        if not os.path.isdir(d):
            sys.exit(f'FAIL schemas/{sub}/ is missing: nothing can be checked without it')
        for name in sorted(os.listdir(d)):
            if name.endswith('.schema.json'):
                with open(os.path.join(d, name), encoding='utf-8') as f:
                    s = json.load(f)
                jsonschema.Draft202012Validator.check_schema(s)
                store[s['$id']] = s
                if sub == 'events' and name != 'common.schema.json':
                    by_type[name[:-len('.schema.json')]] = s
    return store, by_type


def validate(store, by_type, body):
    schema = by_type.get(body.get('type')) if isinstance(body, dict) else None
    if schema is None:
        return 'no schema for this type'
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    v = jsonschema.Draft202012Validator(schema, resolver=resolver)
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.path))
    return errors[0].message if errors else None


def main():
    store, by_type = load_schemas()
    fixtures = os.path.join(ROOT, 'tests', 'fixtures', 'events')
    # implausible: the right shape, so the schema takes them; the parser
    # refuses their dates and places (tests/test_event.c)
    cases = [(os.path.join(fixtures, 'valid'), True), (os.path.join(fixtures, 'invalid'), False),
             (os.path.join(fixtures, 'implausible'), True)]
    args = sys.argv[1:]
    api_dir = None
    if '--api' in args:
        i = args.index('--api')
        api_dir = args[i + 1] if i + 1 < len(args) else None
        del args[i:i + 2]
    cases += [(d, True) for d in args]
    passed = failed = 0
    if api_dir is not None and not os.path.isdir(api_dir):
        failed += 1
        print(f'FAIL {api_dir}: no API messages were kept there (did the e2e suite run?)')
    elif api_dir is not None:
        seen = 0
        for name in sorted(os.listdir(api_dir)):
            kind = 'request' if name.endswith('.request.json') else 'response' if name.endswith('.response.json') else None
            if kind is None:
                continue
            schema = store['urn:tcmtrace:schema:api:' + kind]
            with open(os.path.join(api_dir, name), encoding='utf-8') as f:
                doc = json.load(f)
            seen += 1
            errs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
            if errs:
                failed += 1
                print(f'FAIL {api_dir}/{name}: ' + errs[0].message)
            else:
                passed += 1
        if seen == 0:
            failed += 1
            print(f'FAIL {api_dir}: holds no API message to check')
    for d, want_valid in cases:
        if not os.path.isdir(d):
            failed += 1
            print(f'FAIL {d}: the directory is missing, so none of its files was checked')
            continue
        files = [n for n in sorted(os.listdir(d)) if n.endswith('.json')]
        if not files:
            failed += 1
            print(f'FAIL {d}: holds no .json file to check')
        for name in files:
            with open(os.path.join(d, name), encoding='utf-8') as f:
                body = json.load(f)
            problem = validate(store, by_type, body)
            if problem == 'no schema for this type' and not (not want_valid and name.startswith('type-')):
                # only a fixture about the type itself (type-*.json) may be refused for having none
                failed += 1
                print(f'FAIL {d}/{name}: no schema for its type, so it proves nothing')
            elif (problem is None) == want_valid:
                passed += 1
            else:
                failed += 1
                print(f'FAIL {d}/{name}: ' + (problem or 'accepted but should be refused'))
    # the shipped limits table must satisfy its schema
    with open(os.path.join(SCHEMAS, 'limits', 'chp2020.json'), encoding='utf-8') as f:
        table = json.load(f)
    lim = store.get('urn:tcmtrace:schema:limits')
    if lim is None:
        failed += 1
        print('FAIL schemas/limits/: no schema urn:tcmtrace:schema:limits to check the table with')
    else:
        errs = list(jsonschema.Draft202012Validator(lim).iter_errors(table))
        if errs:
            failed += 1
            print('FAIL schemas/limits/chp2020.json: ' + errs[0].message)
        else:
            passed += 1
    print(f'schemas: {passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
