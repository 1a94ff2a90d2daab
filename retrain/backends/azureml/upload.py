"""Upload files to the temporary blob container Azure ML hands out for a code or data asset.

The container comes with a SAS URL, so these requests carry no bearer token (the SAS is the
credential, and it is never logged). Each file is one Put Blob of a block blob.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

from ...errors import BackendError
from ...http import Session

BLOB_API_VERSION = "2023-11-03"


def upload_folder(session: Session, path: Path, blob_uri: str, sas_uri: str) -> int:
    """Upload ``path`` (a file, or a folder's files by relative path) under ``blob_uri``; return the count."""
    sas = urlsplit(sas_uri).query
    files = [(path, path.name)] if path.is_file() else [
        (f, f.relative_to(path).as_posix()) for f in sorted(path.rglob("*")) if f.is_file() and "__pycache__" not in f.parts]
    for file, rel in files:
        url = f"{blob_uri.rstrip('/')}/{quote(rel)}?{sas}"
        try:
            response = session.put(url, data=file.read_bytes(), headers={
                "x-ms-blob-type": "BlockBlob", "x-ms-version": BLOB_API_VERSION, "Content-Type": "application/octet-stream"})
        except requests.RequestException as e:
            raise BackendError(f"could not upload {rel} to Azure storage ({type(e).__name__}).") from None
        if response.status_code != 201:
            raise BackendError(f"Azure storage answered {response.status_code} to the upload of {rel}; "
                               "the upload link may have expired: publish again.")
    return len(files)
