"""The five legacy systems jinbao knows how to read (no imports: DAG parsing reads this)."""

SYSTEMS = ("pension", "medical", "unemployment", "injury", "maternity")
