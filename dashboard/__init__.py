"""The Streamlit dashboard: `healthmon dashboard` (dashboard.launch.serve) runs dashboard/app.py."""
