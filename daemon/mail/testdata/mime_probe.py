"""Reads one RFC 5322 message (path in argv[1]) with Python's email package and prints what
mail_message_test checks, as JSON: decoded headers, parts, defects and line lengths."""
import email
import email.policy
import json
import sys


def address(header):
    if header is None:
        return None
    return [{"display_name": a.display_name, "addr_spec": a.addr_spec} for a in header.addresses]


def main():
    raw = open(sys.argv[1], "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = raw.split(b"\r\n")
    defects = [repr(d) for d in msg.defects]
    for name, value in msg.items():
        defects += ["%s: %r" % (name, d) for d in getattr(value, "defects", ())]
    parts = []
    for part in msg.iter_parts() if msg.is_multipart() else []:
        defects += [repr(d) for d in part.defects]
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": part.get("Content-Transfer-Encoding"),
            "body": part.get_content(),
        })
    print(json.dumps({
        "header_names": list(msg.keys()),
        "subject": str(msg["Subject"]),
        "from": address(msg["From"]),
        "to": address(msg["To"]),
        "reply_to": address(msg["Reply-To"]),
        "message_id": str(msg["Message-ID"]),
        "date_epoch": msg["Date"].datetime.timestamp() if msg["Date"] else None,
        "date_raw": str(msg["Date"]),
        "auto_submitted": str(msg["Auto-Submitted"]),
        "mime_version": str(msg["MIME-Version"]),
        "extra": {k: str(msg[k]) for k in msg.keys() if k.lower().startswith("x-")},
        "content_type": msg.get_content_type(),
        "boundary": msg.get_boundary(),
        "parts": parts,
        "defects": defects,
        "max_header_line": max(len(l) for l in head.split(b"\r\n")),
        "max_line": max(len(l) for l in lines),
        "bare_cr_or_lf": any(b"\r" in l or b"\n" in l for l in lines),
        "ends_with_crlf": raw.endswith(b"\r\n"),
    }))


main()
