"""api_schema.py - every JSON answer the integration tests receive, checked
against the API description (docs/openapi.json): the operation is found by
the request's method and path (matched to the path templates), then the
answer's status must be one the operation declares, with a body its schema
accepts, and an error's code must be one the description lists for that
status. A mismatch fails the request at once (AssertionError); one met in
another thread is also collected, so that it fails the test even when the
thread's exception is lost (conftest.py asserts the list empty after each
test)."""

import json
import os
import re
import threading
import urllib.parse

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DESCRIPTION_PATH = os.path.join(REPO, "docs", "openapi.json")
JSON_TYPES = ("application/json", "application/problem+json")
CODE_RE = re.compile(r"`([a-z0-9_]+)`")

_lock = threading.Lock()
_mismatches = []
_loaded = {}


def _description():
    with _lock:
        if "doc" not in _loaded:
            with open(DESCRIPTION_PATH, encoding="utf-8") as f:
                doc = json.load(f)
            templates = []
            for template, item in doc["paths"].items():
                pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
                templates.append((template.count("{"), re.compile(pattern), item))
            templates.sort(key=lambda t: t[0])     # literal paths before templated ones
            _loaded["doc"] = doc
            _loaded["templates"] = templates
            _loaded["resolver"] = jsonschema.RefResolver.from_schema(doc)
        return _loaded["doc"], _loaded["templates"], _loaded["resolver"]


def operation_of(method, path):
    """(path item, operation) of a request; operation None when the path is
    known but not the method; (None, None) for an unknown path."""
    _, templates, _ = _description()
    for _, pattern, item in templates:
        if pattern.match(path):
            return item, item.get(method.lower())
    return None, None


def _validate(schema, body):
    _, _, resolver = _description()
    validator = jsonschema.Draft202012Validator(
        schema, resolver=resolver, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(body)", e.message)
            for e in errors[:5]]


def problems_of(method, path, status, content_type, body):
    """What is wrong with one answer, as a list of texts (empty: conforms)."""
    item, op = operation_of(method, path)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    if op is None:
        # An unknown path (404) or method (405): the shared error body.
        return _validate(problem_ref, body) if status >= 400 else [
            "a %d answer for an operation the description does not have" % status]
    response = op["responses"].get(str(status))
    if response is None:
        return ["status %d is not among the operation %s's answers (%s)"
                % (status, op["operationId"], ", ".join(op["responses"]))]
    content = response.get("content", {})
    media = content.get(content_type)
    if media is None:
        return ["%s is not a media type of %s %d (%s)"
                % (content_type, op["operationId"], status, ", ".join(content) or "no body")]
    found = _validate(media["schema"], body)
    if status >= 400 and isinstance(body, dict) and not found:
        codes = CODE_RE.findall(response.get("description", ""))
        if body.get("code") not in codes:
            found.append("code %r is not among %s %d's codes (%s)"
                         % (body.get("code"), op["operationId"], status, ", ".join(codes)))
    return found


def check_answer(method, url, answer):
    """Checks a requests.Response; raises AssertionError on a mismatch."""
    content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
    if content_type not in JSON_TYPES or not answer.content:
        return
    path = urllib.parse.urlsplit(url).path
    try:
        body = answer.json()
    except ValueError:
        found = ["the body is not JSON"]
    else:
        found = problems_of(method, path, answer.status_code, content_type, body)
    if found:
        text = "%s %s -> %d does not match docs/openapi.json:\n  %s\n  body: %s" % (
            method, path, answer.status_code, "\n  ".join(found), answer.text[:600])
        if threading.current_thread() is not threading.main_thread():
            with _lock:
                _mismatches.append(text)     # in case the thread's exception is lost
        raise AssertionError(text)


def take_mismatches():
    """The mismatches collected since the last call (and forgets them)."""
    with _lock:
        taken = list(_mismatches)
        _mismatches.clear()
    return taken
