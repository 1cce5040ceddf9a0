from tests.builders import make_message, names
from thurac.checks.technology import Technology
from thurac.store.history import History

def test_probe(context, zone):
    zone.add_ptr("2001:db8::25", "mail6.shop.example")
    zone.add("mail6.shop.example", "AAAA", "2001:db8::25")
    for ip in ("2001:db8::25", "IPv6:2001:db8::25", "2001:DB8::25", "[2001:db8::25]", "::ffff:198.51.100.7"):
        print(ip, names(Technology().check(make_message(client_ip=ip), History(), context())))
