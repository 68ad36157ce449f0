"""HR's roster: reading and importing the CSV files, an employee's own grants, and who a
roster-wide message goes to.
"""
