"""ketamine-meta: reproducible meta-analysis of ketamine, esketamine and arketamine for depression.

Pure functions on DataFrames and arrays, in layers whose imports only go down: ``stats`` (the
generic engine) < ``evidence`` (the data package) < ``analyses`` (the ketamine questions) <
``figures`` < ``io`` (what the workflow's scripts share) < ``cli``. The Snakemake workflow and
the ``ketamine-meta`` command line do the file I/O (the library reads a package directory in
package_files and saves figures in plotting.save_figure, nothing else).
"""

__version__ = "0.1.0"
