"""The course's cats-vs-dogs lesson: data (data.py), network (model.py), training, sorting."""
