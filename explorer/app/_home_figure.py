"""``python -m explorer.app._home_figure``: draw Home's default map and ship it
(:func:`explorer.app.views.home.write_shipped_figure`), after a change to the map or to its checkpoint."""

from explorer.app.views.home import write_shipped_figure

if __name__ == "__main__":
    print(f"wrote {write_shipped_figure()}")
