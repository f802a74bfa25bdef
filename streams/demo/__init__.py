"""The demo: a scripted night on the bundled broker and chdb."""
