"""Single transactional messages, any message by id, and the provider accounts and sender
names a key may send with."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import serializers as s
from api.keys import actor
from api.problems import Problem
from api.views.base import ApiView
from api.views.campaigns import _messages_params, message_page, page_of
from campaigns import transactional
from campaigns.models import Message
from providers.models import ProviderAccount, SenderName


def _account_of(request, pk: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, workspace=request.workspace, pk=pk)


class MessageList(ApiView):
    @extend_schema(
        parameters=_messages_params(),
        responses=s.paged(s.MessageSerializer),
        operation_id="messages_list",
    )
    def get(self, request):
        """Every message of the workspace in id order (single ones and campaigns'), a page
        at a time."""
        messages = Message.objects.filter(campaign__workspace=request.workspace)
        return message_page(self, request, messages)

    @extend_schema(request=s.SingleMessageSerializer, responses={202: s.MessageSerializer})
    def post(self, request):
        """Sends one SMS (or voice call) now through the same at-most-once engine as
        campaigns. Answers at
        once with the message (``pending``); follow it by GET or a webhook."""
        given = s.SingleMessageSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            accepted = transactional.send(
                request.workspace,
                actor(request),
                account_id=data["account"],
                to=data["to"],
                text=data["text"],
                sender=data.get("sender", ""),
                channel=data["channel"],
                fields=data.get("fields"),
                voice=data.get("voice", ""),
                language=data.get("language", ""),
            )
        except transactional.Refused as refused:
            if refused.opted_out:
                raise Problem("opted-out", str(refused)) from None
            raise ValidationError({refused.field: [str(refused)]}) from None
        return Response(s.MessageSerializer(accepted.message).data, status=status.HTTP_202_ACCEPTED)


class MessageDetail(ApiView):
    @extend_schema(responses=s.MessageSerializer)
    def get(self, request, message_pk: int):
        message = get_object_or_404(Message, campaign__workspace=request.workspace, pk=message_pk)
        return Response(s.MessageSerializer(message).data)


class AccountList(ApiView):
    @extend_schema(responses=s.paged(s.AccountSerializer), operation_id="accounts_list")
    def get(self, request):
        """The workspace's provider accounts with their last known balance."""
        accounts = ProviderAccount.objects.filter(workspace=request.workspace)
        return page_of(self, request, accounts, s.AccountSerializer)


class AccountDetail(ApiView):
    @extend_schema(responses=s.AccountSerializer)
    def get(self, request, account_pk: int):
        return Response(s.AccountSerializer(_account_of(request, account_pk)).data)


class SenderList(ApiView):
    @extend_schema(responses=s.paged(s.SenderSerializer), operation_id="senders_list")
    def get(self, request):
        """The sender names of the workspace's accounts, with their approval status."""
        senders = SenderName.objects.filter(account__workspace=request.workspace)
        return page_of(self, request, senders, s.SenderSerializer)


class SenderDetail(ApiView):
    @extend_schema(responses=s.SenderSerializer)
    def get(self, request, sender_pk: int):
        sender = get_object_or_404(SenderName, account__workspace=request.workspace, pk=sender_pk)
        return Response(s.SenderSerializer(sender).data)
