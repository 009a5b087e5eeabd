"""A stand-in for Google Cloud Storage's JSON API (what a backup job's `google-cloud-storage` client
uses), so the VPS plan's `gs://` backup store can be written, listed, restored from and cut here.

Clients reach it through the library's documented endpoint override (`client_options.api_endpoint`
or `STORAGE_EMULATOR_HOST`): the job's code is the one that would talk to GCS.
"""

from harness.standins.gcs.server import FAULTS, create_app

__all__ = ["FAULTS", "create_app"]
