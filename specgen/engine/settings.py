"""The machine's own settings, for what depthnet-tui really lets a person choose once instead of on every run: the
backend, the image, the GPUs, the Docker network a launch starts from, and whether status.json is polled (network
filesystems, where inotify sees nothing). Read from ``config.yaml`` in the config folder
(``specgen.spec.locations.config_file``) and from ``DEPTHNET_*`` variables, which win (posting's pydantic-settings
model is the pattern). Without a file or a variable every value is what the tool did before it had settings.

pydantic-settings is imported only here, and this module only when a run is launched or followed: the wizard's
start-up never pays for it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from specgen.engine.records import LaunchError
from specgen.spec.locations import config_file


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEPTHNET_", extra="ignore")

    backend: str | None = Field(default=None)
    """Where runs go when the command or dialog names none: docker, local, script or slurm (unset: docker when an
    engine answers, else local, else a script)."""

    image: str | None = Field(default=None)
    """The container image for every action (unset: the TAO image the action needs)."""

    gpus: str = Field(default="0")
    """The GPUs a run gets when none are named: indices (0,1), all or none."""

    network: str | None = Field(default=None)
    """The Docker network mode for runs (unset: Docker's default)."""

    force_polling: bool | None = Field(default=None)
    """Poll status.json instead of inotify (``DEPTHNET_FORCE_POLLING=1`` on NFS/Lustre); unset: watchfiles chooses."""

    @field_validator("force_polling", mode="before")
    @classmethod
    def _polling_word(cls, value: Any) -> Any:
        """The variable's rule since it existed: anything but 0, false or empty turns polling on."""
        if isinstance(value, str):
            return value not in ("0", "false", "")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the file (an empty or absent file is no file)."""
        path = config_file()
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if path.is_file() and path.stat().st_size:
            sources += (YamlConfigSettingsSource(settings_cls, yaml_file=path),)
        return sources


@lru_cache(maxsize=1)
def settings() -> Settings:
    """This process's settings, read once. A file or variable that breaks the model is one LaunchError naming the
    key and where it came from."""
    import yaml

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"])
        raise LaunchError(
            f"setting {key}: {first['msg']}; fix it in {config_file()} or in DEPTHNET_{key.upper()}"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise LaunchError(
            f"{config_file()}: not readable YAML ({exc.__class__.__name__}); fix or move it"
        ) from None


__all__ = ["Settings", "settings"]
