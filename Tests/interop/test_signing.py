"""Signing interop (issue 6 acceptance): the PyPI `model-signing` 1.1.1 tool and Quail accept each other's
signatures and both reject every tampered twin; bad input to sign/verify gives the documented exit codes.

model_signing is run as `python -m model_signing` with this interpreter, so it must be installed
(requirements/reference.txt pins it together with pyopenssl, which its sigstore dependency imports).
Independent signatures are also built here with Python `cryptography` alone (DSSE PAE + DER ECDSA).
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from conftest import FIXTURES, run_quail

PAYLOAD_TYPE = "application/vnd.in-toto+json"
EXIT_FAILED, EXIT_UNUSABLE_SIGNATURE_OR_KEY, EXIT_UNUSABLE_INPUT = 1, 2, 3


def model_signing(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "model_signing", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def ms_sign(model, private, signature):
    proc = model_signing("sign", "key", model, "--private_key", private, "--signature", signature)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def ms_verify(model, public, signature):
    return model_signing("verify", "key", model, "--signature", signature, "--public_key", public)


def quail_verify(model, public, signature=None):
    args = ["verify", model, "--key", public, "--json"] + (["--signature", signature] if signature else [])
    proc = run_quail(*args, check=False)
    return proc, json.loads(proc.stdout) if proc.stdout.strip() else None


def make_model(root):
    """The tiny-llama fixture plus a subdirectory and names with spaces and non-ASCII characters."""
    shutil.copytree(FIXTURES / "tiny-llama", root)
    (root / "sub dir").mkdir()
    (root / "sub dir" / "\u00fcber weights.bin").write_bytes(os.urandom(4096))
    (root / "notes with space.txt").write_text("caf\u00e9\n", encoding="utf-8")
    (root / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    return root


def tree_state(root):
    """Names, sizes, mtimes and contents of every file: verify must never change any of it."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        state[str(path.relative_to(root))] = (
            st.st_mode, st.st_size, st.st_mtime_ns, path.read_bytes() if path.is_file() else None)
    return state


def signed_files(root, signature):
    payload = json.loads(base64.b64decode(json.loads(signature.read_text())["dsseEnvelope"]["payload"]))
    return [r["name"] for r in payload["predicate"]["resources"]]


@pytest.fixture
def keys(tmp_path):
    """A Quail-generated key pair (PKCS#8) and a cryptography-generated one (SEC1), plus an unrelated key."""
    run_quail("keygen", "--private", tmp_path / "quail.pem", "--public", tmp_path / "quail.pub")
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "py.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (tmp_path / "py.pub").write_bytes(other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    wrong = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "wrong.pub").write_bytes(wrong.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return tmp_path


def sign_with(signer, model, keys):
    signature = model / "model.sig"
    if signer == "quail":
        run_quail("sign", model, "--key", keys / "quail.pem")
        return signature, keys / "quail.pub"
    ms_sign(model, keys / "py.pem", signature)
    return signature, keys / "py.pub"


def test_keygen_writes_keys_model_signing_and_cryptography_load(keys):
    assert (keys / "quail.pem").stat().st_mode & 0o777 == 0o600
    private = serialization.load_pem_private_key((keys / "quail.pem").read_bytes(), None)
    assert isinstance(private.curve, ec.SECP256R1)
    canonical = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert (keys / "quail.pub").read_bytes() == canonical


def test_model_signing_accepts_quail_signature(tmp_path, keys):
    model = make_model(tmp_path / "model")
    report = json.loads(run_quail("sign", model, "--key", keys / "quail.pem", "--json").stdout)
    assert report["ok"] and report["file_count"] == 8
    signature = model / "model.sig"
    bundle = json.loads(signature.read_text())
    hint = hashlib.sha256((keys / "quail.pub").read_bytes()).hexdigest()
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == hint
    names = signed_files(model, signature)
    assert "sub dir/\u00fcber weights.bin" in names and "notes with space.txt" in names
    assert ".gitattributes" not in names and "model.sig" not in names
    proc = ms_verify(model, keys / "quail.pub", signature)
    assert proc.returncode == 0 and "Verification succeeded" in proc.stdout, proc.stderr


def test_quail_accepts_model_signing_signature(tmp_path, keys):
    model = make_model(tmp_path / "model")
    ms_sign(model, keys / "py.pem", model / "model.sig")
    before = tree_state(model)
    proc, report = quail_verify(model, keys / "py.pub")
    assert proc.returncode == 0, proc.stderr
    assert report["ok"] and report["hint_checked"] and report["file_count"] == 8
    assert tree_state(model) == before


def test_model_signing_signs_with_a_quail_key_and_quail_verifies(tmp_path, keys):
    model = make_model(tmp_path / "model")
    ms_sign(model, keys / "quail.pem", model / "model.sig")
    proc, report = quail_verify(model, keys / "quail.pub")
    assert proc.returncode == 0 and report["ok"], proc.stderr


def tamper(kind, model, signature):
    """Applies one tampering; returns the expected itemised difference (or the expected error reason)."""
    if kind == "added":
        (model / "sub dir" / "added.bin").write_bytes(b"new")
        return {"extra": ["sub dir/added.bin"]}
    if kind == "removed":
        (model / "tokenizer.json").unlink()
        return {"missing": ["tokenizer.json"]}
    if kind == "renamed":
        (model / "config.json").rename(model / "config2.json")
        return {"missing": ["config.json"], "extra": ["config2.json"]}
    if kind == "manifest":
        bundle = json.loads(signature.read_text())
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        resource = statement["predicate"]["resources"][0]
        resource["digest"] = hashlib.sha256(b"forged").hexdigest()
        root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in statement["predicate"]["resources"]))
        statement["subject"][0]["digest"]["sha256"] = root.hexdigest()
        bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
        signature.write_text(json.dumps(bundle))
        return {"reason": "invalid-signature"}
    raise AssertionError(kind)


@pytest.mark.parametrize("signer", ["quail", "model_signing"])
@pytest.mark.parametrize("kind", ["added", "removed", "renamed", "manifest"])
def test_both_verifiers_reject_tampered_twins(tmp_path, keys, signer, kind):
    model = make_model(tmp_path / "model")
    signature, public = sign_with(signer, model, keys)
    expected = tamper(kind, model, signature)
    before = tree_state(model)
    proc, report = quail_verify(model, public)
    assert proc.returncode == EXIT_FAILED, proc.stderr
    assert report["ok"] is False
    if "reason" in expected:
        assert report["reason"] == expected["reason"]
    else:
        assert report["reason"] == "directory-mismatch"
        assert [e["name"] for e in report["extra"]] == expected.get("extra", [])
        assert [m["name"] for m in report["missing"]] == expected.get("missing", [])
        assert report["changed"] == []
        if kind == "renamed":
            assert report["extra"][0]["digest"] == report["missing"][0]["digest"]
    assert tree_state(model) == before
    ms = ms_verify(model, public, signature)
    assert ms.returncode != 0 and "Verification failed" in ms.stderr


@pytest.mark.parametrize("signer", ["quail", "model_signing"])
def test_both_verifiers_reject_a_flipped_byte_in_any_file(tmp_path, keys, signer):
    model = make_model(tmp_path / "model")
    signature, public = sign_with(signer, model, keys)
    names = signed_files(model, signature)
    assert len(names) == 8
    for name in names:
        path = model / name
        original = path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        proc, report = quail_verify(model, public)
        assert proc.returncode == EXIT_FAILED, (name, proc.stderr)
        assert [c["name"] for c in report["changed"]] == [name]
        change = report["changed"][0]
        assert change["expected"] == hashlib.sha256(original).hexdigest()
        assert change["actual"] == hashlib.sha256(bytes(data)).hexdigest()
        assert report["extra"] == [] and report["missing"] == []
        assert ms_verify(model, public, signature).returncode != 0, name
        path.write_bytes(original)
    assert quail_verify(model, public)[0].returncode == 0
    assert ms_verify(model, public, signature).returncode == 0


@pytest.mark.parametrize("signer", ["quail", "model_signing"])
def test_both_verifiers_reject_a_wrong_key(tmp_path, keys, signer):
    model = make_model(tmp_path / "model")
    signature, _ = sign_with(signer, model, keys)
    proc, report = quail_verify(model, keys / "wrong.pub")
    assert proc.returncode == EXIT_FAILED and report["reason"] == "key-mismatch", proc.stderr
    assert ms_verify(model, keys / "wrong.pub", signature).returncode != 0
    # Without the (unsigned) hint, the ECDSA check itself must reject the key.
    bundle = json.loads(signature.read_text())
    del bundle["verificationMaterial"]["publicKey"]["hint"]
    signature.write_text(json.dumps(bundle))
    proc, report = quail_verify(model, keys / "wrong.pub")
    assert proc.returncode == EXIT_FAILED and report["reason"] == "invalid-signature"
    assert ms_verify(model, keys / "wrong.pub", signature).returncode != 0


def sign_payload(statement, private_pem):
    """A bundle built with cryptography alone: DSSE PAE over the payload, DER ECDSA, no hint."""
    key = serialization.load_pem_private_key(private_pem, None)
    payload = json.dumps(statement).encode()
    pae = b"DSSEv1 %d %s %d " % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload)) + payload
    sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
    return json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {}},
        "dsseEnvelope": {"payload": base64.b64encode(payload).decode(), "payloadType": PAYLOAD_TYPE,
                         "signatures": [{"sig": base64.b64encode(sig).decode()}]},
    })


def statement_for(resources):
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "anything", "digest": {"sha256": root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
                      "resources": resources},
    }


def test_quail_accepts_an_independent_signer_with_reversed_resources(tmp_path, keys):
    model = tmp_path / "m"
    model.mkdir()
    (model / "a").write_bytes(b"a")
    (model / "b").write_bytes(b"b")
    resources = [{"name": n, "algorithm": "sha256", "digest": hashlib.sha256(n.encode()).hexdigest()}
                 for n in ["b", "a"]]
    (model / "model.sig").write_text(sign_payload(statement_for(resources), (keys / "py.pem").read_bytes()))
    proc, report = quail_verify(model, keys / "py.pub")
    assert proc.returncode == 0 and report["ok"] and not report["hint_checked"], proc.stderr


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/hostname", "sub/../../secret.txt"])
def test_escaping_resource_names_are_refused(tmp_path, keys, name):
    model = tmp_path / "m"
    model.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"s")
    resources = [{"name": name, "algorithm": "sha256", "digest": hashlib.sha256(b"s").hexdigest()}]
    (model / "model.sig").write_text(sign_payload(statement_for(resources), (keys / "py.pem").read_bytes()))
    proc, report = quail_verify(model, keys / "py.pub")
    assert proc.returncode == EXIT_UNUSABLE_SIGNATURE_OR_KEY and report["reason"] == "unsafe-path", proc.stderr
    assert name in proc.stderr


def test_bad_input_exit_codes(tmp_path, keys):
    model = make_model(tmp_path / "model")
    # Unsigned directory.
    proc, report = quail_verify(model, keys / "quail.pub")
    assert proc.returncode == EXIT_UNUSABLE_INPUT and report["reason"] == "unsigned"
    assert str(model / "model.sig") in proc.stderr
    # Malformed signature JSON, and an unknown field.
    (model / "model.sig").write_text("{not json")
    proc, report = quail_verify(model, keys / "quail.pub")
    assert proc.returncode == EXIT_UNUSABLE_SIGNATURE_OR_KEY and report["reason"] == "malformed-signature"
    run_quail("sign", model, "--key", keys / "quail.pem", "--force")
    bundle = json.loads((model / "model.sig").read_text())
    bundle["dsseEnvelope"]["color"] = "red"
    (model / "model.sig").write_text(json.dumps(bundle))
    proc, _ = quail_verify(model, keys / "quail.pub")
    assert proc.returncode == EXIT_UNUSABLE_SIGNATURE_OR_KEY and "dsseEnvelope.color" in proc.stderr
    # Unsupported key type: the message names the supported ones.
    ed = tmp_path / "ed.pub"
    ed.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    proc, report = quail_verify(model, ed)
    assert proc.returncode == EXIT_UNUSABLE_SIGNATURE_OR_KEY and report["reason"] == "unsupported-key"
    assert "Ed25519" in proc.stderr and "P-256" in proc.stderr
    # A symlink escaping the directory, for sign and verify; nothing is written by either.
    run_quail("sign", model, "--key", keys / "quail.pem", "--force")
    (model / "leak").symlink_to(tmp_path / "ed.pub")
    before = tree_state(model)
    proc, report = quail_verify(model, keys / "quail.pub")
    assert proc.returncode == EXIT_UNUSABLE_INPUT and report["reason"] == "symlink" and "escapes" in proc.stderr
    proc = run_quail("sign", model, "--key", keys / "quail.pem", "--force", check=False)
    assert proc.returncode == EXIT_UNUSABLE_INPUT and str(model / "leak") in proc.stderr
    assert tree_state(model) == before
    # Usage error.
    assert run_quail("verify", model, check=False).returncode == 64
