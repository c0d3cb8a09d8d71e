from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST


def _require_cert(view):
    def wrapped(request, *args, **kwargs):
        if request.client_cert is None:
            return HttpResponseForbidden("client certificate required\n")
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@_require_cert
def whoami(request):
    return JsonResponse(
        {
            "app": "django",
            "verify": request.META["HTTP_X_SSL_CLIENT_VERIFY"],
            "dn": request.META["HTTP_X_SSL_CLIENT_DN"],
            "secure": request.is_secure(),
            # Every identity header as the app received it, to show that no forgery got here.
            "identity_headers": {
                k: v for k, v in request.META.items() if k.startswith("HTTP_X_SSL_CLIENT_")
            },
        }
    )


@require_GET
@_require_cert
def transfer_form(request):
    token = get_token(request)
    return HttpResponse(
        "<!doctype html><title>transfer</title>"
        f"<p>Signed in as {escape(request.client_cert.subject)}</p>"
        '<form method="post" action="/transfer">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'
        '<input name="amount" value="10"><button>Send</button></form>'
    )


@require_POST
@_require_cert
def transfer(request):
    amount = request.POST.get("amount", "")
    return JsonResponse({"transferred": amount, "by": request.client_cert.subject})


@require_GET
def framed(request):
    # Tells the page that frames it that it rendered: only a page the browser agreed to
    # show in a frame runs this script.
    return HttpResponse(
        "<!doctype html><title>framed</title><p>sensitive button</p>"
        "<script>parent.postMessage('framed-page-rendered', '*');</script>"
    )
