import { Controller, Get, Req, UseGuards } from '@nestjs/common';
import { ClientCertGuard, ClientIdentity } from './client-cert.guard';

@Controller()
export class WhoamiController {
  @Get('whoami')
  @UseGuards(ClientCertGuard)
  whoami(@Req() request: { clientIdentity: ClientIdentity; headers: Record<string, unknown> }) {
    // Every header that could carry an identity, as the app received it.
    const identityHeaders = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) =>
        name.replace(/_/g, '-').startsWith('x-ssl-client'),
      ),
    );
    return {
      app: 'nestjs',
      verify: 'SUCCESS',
      dn: request.clientIdentity.subject,
      identity_headers: identityHeaders,
    };
  }
}
