"""`reviewer eval`: labelled cases materialized as git repositories, reviewed, and scored."""
