"""The dashboard's pages: Streamlit page scripts run by dashboard/app.py's st.navigation, never imported.

Not named `pages/`: Streamlit would treat that folder as a multipage-v1 app and could run a page
without app.py, skipping its login gate.
"""
