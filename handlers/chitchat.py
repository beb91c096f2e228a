from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent


@intent("chitchat")
def greet(message, ctx) -> Reply:
    text = (message.text or "").strip()
    if any(w in text for w in ("谢", "thank")):
        return Reply("不客气！还有其他需要，随时留言。")
    if text in ("再见", "拜拜"):
        return Reply("再见！有需要随时找我们。")
    return Reply(texts.WELCOME)
