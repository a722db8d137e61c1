"""Run services: launch, monitor and judge TAO depth_net runs. No Textual here: the CLI uses them too."""
