"""Admin identity for Flask-Login."""
from .extensions import db, login_manager
from .models import User


@login_manager.user_loader
def load_user(user_id):
    user = db.session.get(User, int(user_id)) if str(user_id).isdigit() else None
    return user if user is not None and user.is_active else None
