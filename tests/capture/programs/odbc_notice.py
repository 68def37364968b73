"""ODBC statements that succeed with information (SQL_SUCCESS_WITH_INFO: PostgreSQL notices),
which pyodbc reads from the diagnostic records right after the call.

    odbc_notice.py CONNECTION-STRING
"""
import sys

import pyodbc


def notices(cur):
    cur.execute("DROP TABLE IF EXISTS nosuch_table")
    print("messages", cur.messages)
    cur.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
    print("messages", cur.messages)


c = pyodbc.connect(sys.argv[1], autocommit=True)
notices(c.cursor())
c.close()
