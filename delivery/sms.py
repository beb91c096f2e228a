"""SMS behind one small interface: `send(phone, template_id, params)`. Tencent Cloud's is the one
implementation (its SDK signs the requests, TC3-HMAC-SHA256); tests point SMS_ENDPOINT at a local
fake that answers as the API does.

SMS is the last resort (tickets/outreach.py decides when): approved templates only, a per-number
daily cap, an enterprise's opt-out, and never the same notice twice.
"""

from __future__ import annotations

from typing import Protocol

from core import settings


class SmsError(RuntimeError):
    """The provider refused or failed; `permanent` when sending again cannot help (a bad number)."""

    def __init__(self, message: str, code: str = "", permanent: bool = False):
        super().__init__(message)
        self.code, self.permanent = code, permanent


class SmsProvider(Protocol):
    def send(self, phone: str, template_id: str, params: list[str]) -> str:
        """Sends one templated SMS; returns the provider's serial number or raises SmsError."""


# Tencent Cloud answers these for a number or a template that will not work however often it is sent.
PERMANENT = (
    "FailedOperation.PhoneNumberInBlacklist",
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
    "FailedOperation.MissingTemplateToModify",
)


class TencentSms:
    """Tencent Cloud SMS (API 2021-01-11, SendSms) through the official SDK."""

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        app_id: str,
        sign: str,
        region: str = "ap-guangzhou",
        endpoint: str = "sms.tencentcloudapi.com",
        timeout: int = 10,
    ):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        scheme = "https"
        if endpoint.startswith(("http://", "https://")):
            scheme, endpoint = endpoint.split("://", 1)
        http = HttpProfile(protocol=scheme, endpoint=endpoint.rstrip("/"), reqTimeout=timeout)
        self.client = sms_client.SmsClient(
            credential.Credential(secret_id, secret_key), region, ClientProfile(httpProfile=http)
        )
        self.app_id, self.sign = str(app_id), sign

    def send(self, phone: str, template_id: str, params: list[str]) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign
        request.TemplateId = str(template_id)
        request.TemplateParamSet = [str(p) for p in params]
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            raise SmsError(f"{code}: {exc.get_message()}", code, permanent=code in PERMANENT) from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise SmsError("no send status in the answer")
        status = statuses[0]
        if status.Code != "Ok":
            raise SmsError(f"{status.Code}: {status.Message}", status.Code, permanent=status.Code in PERMANENT)
        return status.SerialNo or ""


def provider(config) -> SmsProvider | None:
    if config.get("SMS_PROVIDER") == "tencent":
        return TencentSms(
            config["SMS_SECRET_ID"],
            config["SMS_SECRET_KEY"],
            config["SMS_APP_ID"],
            config["SMS_SIGN"],
            settings.value(config, "SMS_REGION"),
            settings.value(config, "SMS_ENDPOINT"),
        )
    return None
