import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';

export interface ClientIdentity {
  subject: string;
  issuer: string;
  fingerprint: string;
}

// Node lower-cases header names. certgate writes x-ssl-client-verify on every request it
// forwards (SUCCESS only for a verified certificate) and removes any client-sent copy, so
// these headers are trustworthy as long as the app listens on 127.0.0.1 only.
@Injectable()
export class ClientCertGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const headers = request.headers as Record<string, string | string[] | undefined>;
    const verify = headers['x-ssl-client-verify'];
    const subject = headers['x-ssl-client-dn'];
    if (verify !== 'SUCCESS' || typeof subject !== 'string' || subject === '') return false;
    const identity: ClientIdentity = {
      subject,
      issuer: String(headers['x-ssl-client-issuer-dn'] ?? ''),
      fingerprint: String(headers['x-ssl-client-fingerprint'] ?? ''),
    };
    request.clientIdentity = identity;
    return true;
  }
}
